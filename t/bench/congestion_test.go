package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fakeCongestion(t *testing.T, current, available string) {
	t.Helper()
	dir := t.TempDir()
	oldC, oldA := congestionPath, availablePath
	t.Cleanup(func() { congestionPath, availablePath = oldC, oldA })
	congestionPath = filepath.Join(dir, "tcp_congestion_control")
	availablePath = filepath.Join(dir, "tcp_available_congestion_control")
	os.WriteFile(congestionPath, []byte(current+"\n"), 0o644)
	os.WriteFile(availablePath, []byte(available+"\n"), 0o644)
}

func TestSetCongestionRestores(t *testing.T) {
	fakeCongestion(t, "bbr", "reno cubic bbr")
	restore, err := setCongestion("cubic")
	if err != nil {
		t.Fatal(err)
	}
	if got := congestion(); got != "cubic" {
		t.Fatalf("during the run: %q, want cubic", got)
	}
	restore()
	if got := congestion(); got != "bbr" {
		t.Fatalf("after the run: %q, want bbr", got)
	}
}

func TestSetCongestionRefusesUnknown(t *testing.T) {
	fakeCongestion(t, "bbr", "reno cubic bbr")
	if _, err := setCongestion("vegas"); err == nil || !strings.Contains(err.Error(), "reno cubic bbr") {
		t.Fatalf("vegas: err %v, want one naming what the kernel offers", err)
	}
	if _, err := setCongestion("cub"); err == nil {
		t.Fatal("a prefix of an offered name was taken")
	}
	if got := congestion(); got != "bbr" {
		t.Fatalf("after a refusal: %q, want bbr", got)
	}
}

func TestSetCongestionSameIsNoop(t *testing.T) {
	fakeCongestion(t, "cubic", "reno cubic")
	restore, err := setCongestion("cubic")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(congestionPath, []byte("reno"), 0o644) // changed by someone else meanwhile
	restore()
	if got := congestion(); got != "reno" {
		t.Fatalf("restore of an unchanged setting wrote %q", got)
	}
}
