package conf

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/rs/zerolog"
)

// limit_req_zone and limit_conn_zone blocks, and the limit_req and
// limit_conn directives that use them (nginx's limit_req and limit_conn
// modules).

// ZoneKind is what a zone counts.
type ZoneKind int8

const (
	// ZoneReq is a limit_req_zone: a leaky bucket of requests per key.
	ZoneReq ZoneKind = iota
	// ZoneConn is a limit_conn_zone: the requests in progress per key.
	ZoneConn
)

// LimitZone is a limit_req_zone or limit_conn_zone block: state per
// value of Key, shared by every worker, in Size bytes of shared memory.
type LimitZone struct {
	// Name is the block's label.
	Name string
	// Kind is limit_req or limit_conn.
	Kind ZoneKind
	// Key is the value the state is kept per, e.g. $binary_remote_addr;
	// a request whose key is empty is not counted.
	Key Template
	// Size is the shared memory in bytes: about 64 bytes a key.
	Size int64
	// Rate is a limit_req_zone's rate in thousandths of a request per
	// second (nginx's unit): "10r/s" is 10000, "30r/m" 500.
	Rate int64
	// Index is the zone's place in HTTP.Zones.
	Index int
}

// Identity is what a zone's shared memory is kept for across a reload or
// a binary upgrade: the same name, kind, size and key keep their state
// (the rate may change).
func (z *LimitZone) Identity() string {
	kind := "limit_req_zone"
	if z.Kind == ZoneConn {
		kind = "limit_conn_zone"
	}
	return fmt.Sprintf("%s %q size=%d key=%q", kind, z.Name, z.Size, z.Key.String())
}

// LimitReq is one limit_req: a zone and how many requests over its rate
// may wait (Burst) and how many of those go at once (Delay), both in
// thousandths of a request as Rate.
type LimitReq struct {
	Zone *LimitZone
	// Burst is the excess a key may build up before its requests are
	// refused. Default: 0.
	Burst int64
	// Delay is the excess up to which requests are not delayed:
	// 0 delays every request over the rate (the default), nodelay is
	// NoDelay.
	Delay int64
}

// NoDelay is LimitReq.Delay for nodelay: no request is delayed.
const NoDelay = math.MaxInt64 / 2

// LimitConn is one limit_conn: a zone and the requests in progress a key
// may have.
type LimitConn struct {
	Zone *LimitZone
	Conn int
}

const (
	// minZoneSize holds a few dozen keys; nginx's smallest zone is 32k.
	minZoneSize = 32 << 10
	// maxZoneSize bounds a zone: shared memory every worker maps (16
	// million keys).
	maxZoneSize = 1 << 30
	// maxRate is a million requests a second: more is no limit.
	maxRate = 1000000
)

// zoneBlock decodes a limit_req_zone or limit_conn_zone block.
func (d *decoder) zoneBlock(b *hcl.Block, h *httpDraft) {
	name := b.Labels[0]
	kind, ctx := ZoneReq, inReqZone
	if b.Type == "limit_conn_zone" {
		kind, ctx = ZoneConn, inConnZone
	}
	content := d.content(b.Body, ctx)
	if name == "" {
		d.errorf(b.LabelRanges[0], "Invalid "+b.Type, "the zone needs a name")
		return
	}
	if prev, dup := h.zoneAt[name]; dup {
		d.errorf(b.LabelRanges[0], "Duplicate "+b.Type, "zone %q is already defined at %s", name, at(prev))
		return
	}
	h.zoneAt[name] = b.LabelRanges[0]
	z := &LimitZone{Name: name, Kind: kind, Index: len(h.zones)}
	required := []string{"key", "size"}
	if kind == ZoneReq {
		required = append(required, "rate")
	}
	for _, r := range required {
		if content.Attributes[r] == nil {
			d.errorf(b.DefRange, "Invalid "+b.Type, "zone %q needs %s", name, r)
		}
	}
	d.apply(content.Attributes, &target{zone: z})
	h.zones = append(h.zones, z)
}

func decodeZoneKey(d *decoder, a *hcl.Attribute, t *target) {
	tpl, ok := d.template(a.Name, a.Expr)
	if !ok {
		return
	}
	if !tpl.HasVars() {
		d.invalid(a.Name, a.Expr.Range(), "%q has no variable: every request would share one key", tpl.String())
		return
	}
	t.zone.Key = tpl
}

func decodeZoneSize(d *decoder, a *hcl.Attribute, t *target) {
	if n, ok := d.size(a, minZoneSize, maxZoneSize); ok {
		t.zone.Size = n
	}
}

// decodeZoneRate reads "Nr/s" or "Nr/m".
func decodeZoneRate(d *decoder, a *hcl.Attribute, t *target) {
	s, ok := d.str(a)
	if !ok {
		return
	}
	rate, err := ParseRate(s)
	if err != nil {
		d.invalid(a.Name, a.Expr.Range(), "%q: %v", s, err)
		return
	}
	t.zone.Rate = rate
}

// ParseRate reads a limit_req_zone rate, "Nr/s" or "Nr/m", into
// thousandths of a request per second.
func ParseRate(s string) (int64, error) {
	scale := int64(1)
	num, ok := strings.CutSuffix(s, "r/s")
	if !ok {
		if num, ok = strings.CutSuffix(s, "r/m"); !ok {
			return 0, fmt.Errorf("want requests per second or minute, such as \"10r/s\" or \"30r/m\"")
		}
		scale = 60
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 || n > maxRate {
		return 0, fmt.Errorf("the rate must be a whole number of requests from 1 to %d", maxRate)
	}
	return n * 1000 / scale, nil
}

// FormatRate writes a rate as limit_req_zone takes it.
func FormatRate(r int64) string {
	if r%1000 == 0 {
		return strconv.FormatInt(r/1000, 10) + "r/s"
	}
	return strconv.FormatInt(r*60/1000, 10) + "r/m"
}

// decodeLimitReq reads one { zone = "NAME", burst = N, nodelay = true |
// delay = N } or a list of them; an empty list clears what is inherited.
func decodeLimitReq(d *decoder, a *hcl.Attribute, t *target) {
	var out []LimitReq
	ok := true
	for _, item := range d.objects(a) {
		zone, num, flags, good := d.limitFields(a.Name, item, []string{"burst", "delay"}, []string{"nodelay"})
		if !good {
			ok = false
			continue
		}
		z := d.zoneRef(a.Name, item.Range(), zone, ZoneReq, t)
		if z == nil {
			ok = false
			continue
		}
		lr := LimitReq{Zone: z, Burst: num["burst"] * 1000, Delay: num["delay"] * 1000}
		if flags["nodelay"] {
			if _, both := num["delay"]; both {
				d.invalid(a.Name, item.Range(), "nodelay and delay do not go together")
				ok = false
				continue
			}
			lr.Delay = NoDelay
		}
		out = append(out, lr)
	}
	if ok {
		t.set.LimitReq = out
	}
}

func showLimitReq(s *Settings) string {
	items := make([]string, len(s.LimitReq))
	for i, lr := range s.LimitReq {
		delay := "delay = " + strconv.FormatInt(lr.Delay/1000, 10)
		if lr.Delay == NoDelay {
			delay = "nodelay = true"
		}
		items[i] = fmt.Sprintf("{ zone = %s, burst = %d, %s }", hclQuote(lr.Zone.Name), lr.Burst/1000, delay)
	}
	return "[" + strings.Join(items, ", ") + "]"
}

// decodeLimitConn reads { NAME = N, ... }: a zone and the requests in
// progress each key may have; {} clears what is inherited.
func decodeLimitConn(d *decoder, a *hcl.Attribute, t *target) {
	pairs, diags := hcl.ExprMap(a.Expr)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return
	}
	var out []LimitConn
	ok := true
	for _, kv := range pairs {
		var name string
		if !d.decode(a.Name, kv.Key, nil, &name) {
			ok = false
			continue
		}
		z := d.zoneRef(a.Name, kv.Key.Range(), name, ZoneConn, t)
		n, good := d.integer(&hcl.Attribute{Name: a.Name, Expr: kv.Value, Range: kv.Value.Range()}, 1, 65535)
		if z == nil || !good {
			ok = false
			continue
		}
		out = append(out, LimitConn{Zone: z, Conn: int(n)})
	}
	if ok {
		t.set.LimitConn = out
	}
}

func showLimitConn(s *Settings) string {
	pairs := make([]string, len(s.LimitConn))
	for i, lc := range s.LimitConn {
		pairs[i] = hclQuote(lc.Zone.Name) + " = " + strconv.Itoa(lc.Conn)
	}
	if len(pairs) == 0 {
		return "{}"
	}
	return "{ " + strings.Join(pairs, ", ") + " }"
}

// zoneRef finds the zone a limit_req or limit_conn names.
func (d *decoder) zoneRef(directive string, rng hcl.Range, name string, kind ZoneKind, t *target) *LimitZone {
	for _, z := range d.zones() {
		if z.Name != name {
			continue
		}
		if z.Kind != kind {
			want := "limit_req_zone"
			if kind == ZoneConn {
				want = "limit_conn_zone"
			}
			d.invalid(directive, rng, "zone %q is not a %s", name, want)
			return nil
		}
		return z
	}
	d.invalid(directive, rng, "unknown zone %q: define it in the http block", name)
	return nil
}

// zones are the zones of the http block being decoded.
func (d *decoder) zones() []*LimitZone {
	if d.http == nil {
		return nil
	}
	return d.http.zones
}

// objects returns the objects of an attribute that is one object or a
// list of them.
func (d *decoder) objects(a *hcl.Attribute) []hcl.Expression {
	if elems, diags := hcl.ExprList(a.Expr); !diags.HasErrors() {
		return elems
	}
	return []hcl.Expression{a.Expr}
}

// limitFields decodes { zone = "NAME", ... } with whole-number fields
// nums (at least 0) and boolean fields flags.
func (d *decoder) limitFields(directive string, e hcl.Expression, nums, flags []string) (string, map[string]int64, map[string]bool, bool) {
	pairs, diags := hcl.ExprMap(e)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return "", nil, nil, false
	}
	zone := ""
	num := map[string]int64{}
	flag := map[string]bool{}
	ok := true
	for _, kv := range pairs {
		var key string
		if !d.decode(directive, kv.Key, nil, &key) {
			ok = false
			continue
		}
		field := &hcl.Attribute{Name: directive + "." + key, Expr: kv.Value, Range: kv.Value.Range()}
		switch {
		case key == "zone":
			if s, good := d.str(field); good {
				zone = s
			} else {
				ok = false
			}
		case contains(nums, key):
			n, good := d.integer(field, 0, maxRate)
			num[key], ok = n, ok && good
		case contains(flags, key):
			b, good := d.boolean(field)
			flag[key], ok = b, ok && good
		default:
			d.invalid(directive, kv.Key.Range(), "unknown key %q: want zone, %s", key, strings.Join(append(append([]string{}, nums...), flags...), ", "))
			ok = false
		}
	}
	if zone == "" && ok {
		d.invalid(directive, e.Range(), "zone = \"NAME\" is required")
		ok = false
	}
	return zone, num, flag, ok
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// limitLogLevels are the levels limit_req_log_level and
// limit_conn_log_level take, as nginx.
var limitLogLevels = []string{"info", "notice", "warn", "error"}

// logLevelDirective is a Settings log level among limitLogLevels.
func logLevelDirective(name string, field func(*Settings) *zerolog.Level) directive {
	return directive{name: name, ctx: inSettings,
		decode: func(d *decoder, a *hcl.Attribute, t *target) {
			s, ok := d.keyword(a, limitLogLevels...)
			if !ok {
				return
			}
			for _, l := range logLevels {
				if l.name == s {
					*field(t.set) = l.level
				}
			}
		},
		show: func(s *Settings) string { return hclQuote(LevelName(*field(s))) }}
}

// statusDirective is a Settings status code in [400, 599].
func statusDirective(name string, field func(*Settings) *int) directive {
	return count(name, 400, 599, field)
}
