//go:build race

package profile

// raceEnabled is whether the race detector is on: it multiplies memory
// and time, so the measurements of the production build skip.
const raceEnabled = true
