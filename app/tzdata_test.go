package app

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinary_EmbedsZoneData: the server binary links time/tzdata, so that
// STATS_TIME_ZONE loads in an image without /usr/share/zoneinfo. This
// machine has the files, so loading a zone here proves nothing; the build's
// package list does.
func TestBinary_EmbedsZoneData(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "wxlogin").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if !strings.Contains("\n"+string(out), "\ntime/tzdata\n") {
		t.Fatal("the wxlogin binary does not link time/tzdata: a container without /usr/share/zoneinfo cannot load STATS_TIME_ZONE")
	}
}
