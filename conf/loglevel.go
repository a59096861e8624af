package conf

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/rs/zerolog"
)

// The error log's levels are nginx's, each its own step of zerolog's
// scale: zerolog has no notice, so nginx's debug, info and notice sit on
// zerolog's trace, debug and info — info, the level most Go code logs at
// by habit, is notice, the level of start-ups, reloads and worker exits
// — and crit and alert on its fatal and panic (logged with WithLevel,
// which neither exits nor panics). Write a line with
// log.WithLevel(conf.LogInfo) and so on; LevelName is what the line's
// "level" says.
const (
	LogDebug  = zerolog.TraceLevel
	LogInfo   = zerolog.DebugLevel // a client's own doing: timeouts, bad requests, resets
	LogNotice = zerolog.InfoLevel  // the default: start-up, reload, upgrade, worker exits
	LogWarn   = zerolog.WarnLevel
	LogError  = zerolog.ErrorLevel // a failed request: a file that cannot be opened, ...
	LogCrit   = zerolog.FatalLevel
	LogAlert  = zerolog.PanicLevel
)

// LevelInherit is the ErrorLogLevel of a block that sets none: the main
// context's error_log_level applies.
const LevelInherit = zerolog.NoLevel

// logLevels are the levels by nginx name, least severe first. emerg is
// not one: nothing tern does is an emergency of the whole machine.
var logLevels = []struct {
	name  string
	level zerolog.Level
}{
	{"debug", LogDebug},
	{"info", LogInfo},
	{"notice", LogNotice},
	{"warn", LogWarn},
	{"error", LogError},
	{"crit", LogCrit},
	{"alert", LogAlert},
}

func decodeErrorLogLevel(d *decoder, a *hcl.Attribute, t *target) {
	names := make([]string, len(logLevels))
	for i, l := range logLevels {
		names[i] = l.name
	}
	s, ok := d.keyword(a, names...)
	if !ok {
		return
	}
	for _, l := range logLevels {
		switch {
		case l.name != s:
		case t.set != nil:
			t.set.ErrorLogLevel = l.level
		default:
			t.cfg.ErrorLogLevel = l.level
		}
	}
}

// showErrorLogLevel is a block's error_log_level, "" when it has the main
// context's.
func showErrorLogLevel(s *Settings) string {
	if s.ErrorLogLevel == LevelInherit {
		return ""
	}
	return hclQuote(LevelName(s.ErrorLogLevel))
}

// LevelName is the nginx name of a level; a process sets it as
// zerolog.LevelFieldMarshalFunc, so that each line's "level" is the
// name error_log_level takes.
func LevelName(level zerolog.Level) string {
	for _, l := range logLevels {
		if l.level == level {
			return l.name
		}
	}
	return level.String()
}
