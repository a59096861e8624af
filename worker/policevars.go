package worker

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strconv"

	"tern/conf"
)

// The variables of realip, the PROXY protocol, limit_req, limit_conn,
// limit_rate, secure_link and valid_referers.

// appendPoliceVar appends one of them.
func (rq *request) appendPoliceVar(dst []byte, v *conf.Var) []byte {
	switch v.Kind {
	case conf.VarRealIPRemoteAddr:
		if rq.realPeer.IsValid() {
			return rq.realPeer.Addr().AppendTo(dst)
		}
		return rq.peer.Addr().AppendTo(dst)
	case conf.VarRealIPRemotePort:
		p := rq.peer
		if rq.realPeer.IsValid() {
			p = rq.realPeer
		}
		return strconv.AppendUint(dst, uint64(p.Port()), 10)
	case conf.VarProxyProtocolAddr, conf.VarProxyProtocolPort, conf.VarProxyProtocolServerAddr, conf.VarProxyProtocolServerPort:
		return rq.appendProxyVar(dst, v.Kind)
	case conf.VarLimitRate:
		return strconv.AppendInt(dst, rq.limitRate(), 10)
	case conf.VarLimitReqStatus:
		return append(dst, rq.limitReqStatus.String()...)
	case conf.VarLimitConnStatus:
		return append(dst, rq.limitConnStatus.String()...)
	case conf.VarSecureLink:
		rq.secureLink()
		return append(dst, rq.slValue...)
	case conf.VarSecureLinkExpires:
		if rq.slState == slNone {
			rq.secureLink()
		}
		return append(dst, rq.slExpires...)
	case conf.VarInvalidReferer:
		if !rq.Loc.ValidReferers.Valid(rq.Req.Referer) {
			dst = append(dst, '1')
		}
		return dst
	}
	return dst
}

// appendProxyVar appends what the PROXY protocol header said; nothing
// without one.
func (rq *request) appendProxyVar(dst []byte, k conf.VarKind) []byte {
	if rq.conn == nil || rq.conn.proxyHeader() == nil {
		return dst
	}
	h := rq.conn.proxyHeader()
	switch k {
	case conf.VarProxyProtocolAddr:
		return h.Src.Addr().AppendTo(dst)
	case conf.VarProxyProtocolPort:
		return strconv.AppendUint(dst, uint64(h.Src.Port()), 10)
	case conf.VarProxyProtocolServerAddr:
		return h.Dst.Addr().AppendTo(dst)
	}
	return strconv.AppendUint(dst, uint64(h.Dst.Port()), 10)
}

// limitRate is the response's rate limit: what set $limit_rate gave,
// else the location's limit_rate.
func (rq *request) limitRate() int64 {
	if rq.limitRateSet {
		return rq.limitRateVal
	}
	if rq.Loc == nil {
		return 0
	}
	return rq.Loc.LimitRate
}

// setLimitRate is set $limit_rate: a size, as limit_rate takes; a value
// that is not one is ignored, as nginx.
func (rq *request) setLimitRate(v []byte) bool {
	n, err := conf.ParseSize(string(v))
	if err != nil || n < 0 {
		return false
	}
	rq.limitRateSet, rq.limitRateVal = true, n
	return true
}

// States of $secure_link while a request computes it.
const (
	slNone      int8 = iota // not computed yet
	slComputing             // reading secure_link_md5, which may read $secure_link_expires
	slDone
)

// secureLink computes $secure_link and $secure_link_expires once per
// request, as nginx's secure_link module: "1" when the link's MD5 is that
// of secure_link_md5 (compared in constant time) and its expiry has not
// passed, "0" when it has, empty when the link is bad or missing.
func (rq *request) secureLink() {
	if rq.slState != slNone {
		return
	}
	rq.slState = slComputing
	defer func() { rq.slState = slDone }()
	loc := rq.Loc
	if loc.SecureLinkSecret != "" {
		rq.secureLinkSecret(loc.SecureLinkSecret)
		return
	}
	if loc.SecureLink.IsZero() || loc.SecureLinkMD5.IsZero() {
		return
	}
	val := loc.SecureLink.Append(rq.slBuf[:0], rq)
	rq.slBuf = val
	hash := val
	var expires int64
	for i, c := range val {
		if c != ',' {
			continue
		}
		hash = val[:i]
		var ok bool
		if expires, ok = parseTime(val[i+1:]); !ok || expires <= 0 {
			return
		}
		rq.slExpires = val[i+1:]
		break
	}
	// base64url of 16 bytes: at most 24 characters, padding or not.
	var got [18]byte
	if len(hash) > 24 {
		return
	}
	for len(hash) > 0 && hash[len(hash)-1] == '=' {
		hash = hash[:len(hash)-1]
	}
	if n, err := base64.RawURLEncoding.Decode(got[:], hash); err != nil || n != md5.Size {
		return
	}
	rq.slMD5 = loc.SecureLinkMD5.Append(rq.slMD5[:0], rq)
	sum := md5.Sum(rq.slMD5)
	if subtle.ConstantTimeCompare(sum[:], got[:md5.Size]) != 1 {
		return
	}
	if expires > 0 && expires < rq.w.loop.Wall().Unix() {
		rq.slValue = linkExpired
		return
	}
	rq.slValue = linkValid
}

// The values of $secure_link for a valid link and an expired one.
var (
	linkValid   = []byte("1")
	linkExpired = []byte("0")
)

// secureLinkSecret is nginx's older form: the request target is
// /PREFIX/MD5/LINK and MD5, in hex, is that of LINK and the secret;
// $secure_link is then LINK.
func (rq *request) secureLinkSecret(secret string) {
	u := rq.Req.Target
	if len(u) < 2 {
		return
	}
	p := 1
	for p < len(u) && u[p] != '/' {
		p++
	}
	start := p + 1
	end := start
	for end < len(u) && u[end] != '/' {
		end++
	}
	if end >= len(u) || end-start != 2*md5.Size || end+1 == len(u) {
		return
	}
	link := u[end+1:]
	var got [md5.Size]byte
	if _, err := hex.Decode(got[:], u[start:end]); err != nil {
		return
	}
	rq.slMD5 = append(append(rq.slMD5[:0], link...), secret...)
	sum := md5.Sum(rq.slMD5)
	if subtle.ConstantTimeCompare(sum[:], got[:]) == 1 {
		rq.slValue = link
	}
}

// parseTime reads a decimal number of seconds (nginx's ngx_atotm).
func parseTime(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
