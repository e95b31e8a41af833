package app

// The zone database is compiled into the binary (about 450 KB): an image
// without /usr/share/zoneinfo (scratch, Alpine without its tzdata package)
// must still load STATS_TIME_ZONE. TestBinary_EmbedsZoneData holds it.
import _ "time/tzdata"
