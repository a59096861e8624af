//go:build linux

package worker

import (
	"tern/conf"
)

// nginx's access phase (ngx_http_core_access_phase): the access module's
// allow and deny rules, then auth_basic. With satisfy all, every check
// must pass and the first failure answers; with satisfy any, one check
// that passes admits the request, and when none does the answer is 401
// if authentication failed, else 403. A location without these
// directives (conf.Location.Guard clear) never gets here.

// access runs the access phase for rq.Loc. It returns 0 to go on, the
// status to answer with, or statusPark while a password is checked or
// the user file read on a pool thread.
func (w *Worker) access(rq *request) int {
	loc := rq.Loc
	any := loc.Satisfy == conf.SatisfyAny
	code := 0 // nginx's r->access_code: the failure to answer with
	if len(loc.Access) > 0 {
		switch allowed, matched := rulesAllow(loc.Access, rq); {
		case allowed && matched && any:
			return 0
		case !allowed && !any:
			rq.errLog().Error().Stringer("client", rq.peer.Addr()).Bytes("uri", rq.Req.Path).Msg("access forbidden by rule")
			return 403
		case !allowed:
			code = 403
		}
	}
	if loc.AuthBasic != "" {
		switch st := w.authBasic(rq); {
		case st == 0 && any:
			rq.realm = "" // no challenge on a response that was admitted
			return 0
		case st == 0:
		case !any || (st != 401 && st != 403):
			// An error (500), a parked check, or satisfy all.
			return st
		case code != 401:
			code = st
		}
	}
	return code
}

// rulesAllow applies the allow and deny rules to the client: the first
// that matches decides. matched is false when none does, which allows.
func rulesAllow(rules []conf.AccessRule, rq *request) (allowed, matched bool) {
	addr := rq.peer.Addr()
	unix := !addr.IsValid()
	for i := range rules {
		if rules[i].Matches(addr, unix) {
			return !rules[i].Deny, true
		}
	}
	return true, false
}
