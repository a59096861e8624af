package conf

import (
	"bytes"
	"strings"
	"testing"
)

// TestLogLevels: every nginx level is a step of its own, in nginx's
// order, and is written back by its name (tern -T), so that info is not
// notice: per-client events at info stay out of the default log.
func TestLogLevels(t *testing.T) {
	for i, l := range logLevels {
		if i > 0 && l.level <= logLevels[i-1].level {
			t.Errorf("%s is not above %s", l.name, logLevels[i-1].name)
		}
		if got := LevelName(l.level); got != l.name {
			t.Errorf("LevelName(%v) = %q, want %q", l.level, got, l.name)
		}
		c := mustLoad(t, `error_log_level = "`+l.name+`"`)
		var b bytes.Buffer
		if err := c.WriteHCL(&b); err != nil {
			t.Fatal(err)
		}
		if want := `error_log_level = "` + l.name + `"`; !strings.Contains(b.String(), want) {
			t.Errorf("%s written back without %s", l.name, want)
		}
	}
	if LogInfo >= LogNotice || mustLoad(t, "").ErrorLogLevel != LogNotice {
		t.Error("info is not below the default, notice")
	}
}
