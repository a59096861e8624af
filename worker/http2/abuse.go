//go:build linux

package http2

import "time"

// Every frame a client sends costs the server some work; most of them
// also make the client's request or response progress. The ones that do
// not — PING, SETTINGS, PRIORITY, empty DATA and header fragments,
// unknown types, frames on closed streams — are counted in a window of a
// second, and so are streams the client cancels before their response
// is sent (RST_STREAM right after HEADERS, CVE-2023-44487 "rapid
// reset"). A client past either bound gets GOAWAY with
// ENHANCE_YOUR_CALM and loses the connection; the worker goes on
// serving everyone else. Browsers send a handful of each per page.
// Header blocks are bounded by large_client_header_buffers
// (blockFragment, headDecoder), a client that opens streams faster than
// it lets them finish by SETTINGS_MAX_CONCURRENT_STREAMS and the
// per-read bound of openStream, and windows kept shut by send_timeout
// (Conn.Timeout).

const (
	// abuseWindow is the span the counts below are kept over.
	abuseWindow = int64(time.Second)
	// maxFloodFrames bounds the frames that make nothing progress.
	maxFloodFrames = 1000
	// minCancels is the least number of cancelled streams tolerated;
	// the bound is twice http2_max_concurrent_streams when that is
	// more, so that a client may abandon every stream of a page twice.
	minCancels = 100
)

// window starts a new counting window when the last one is over.
func (c *Conn) window() {
	if now := c.shared.now(); now-c.floodStart >= abuseWindow {
		c.floodStart, c.floods, c.resets = now, 0, 0
	}
}

// flood counts a frame that made nothing progress.
func (c *Conn) flood(what string) {
	c.window()
	if c.floods++; c.floods > maxFloodFrames {
		c.fail(ErrEnhanceYourCalm, "client flooded the connection with "+what)
	}
}

// closedFrame counts a WINDOW_UPDATE or RST_STREAM on a stream that is
// gone. RFC 9113 §5.1 lets both follow a stream's close: a client gives
// back the window of DATA it reads after the END_STREAM came (Go's
// client does, once per few KiB read), or cancels a stream whose
// END_STREAM crossed its RST_STREAM. So each DATA frame sent and each
// stream ended earns one such frame (credit) before they count as a
// flood: a client gets no more of them for free than it made tern send.
func (c *Conn) closedFrame(what string) {
	if c.closedCredit > 0 {
		c.closedCredit--
		return
	}
	c.flood(what)
}

// maxClosedCredit bounds the credit a long download banks.
const maxClosedCredit = 1 << 16

// credit grants closedFrame's credit.
func (c *Conn) credit() { c.closedCredit = min(c.closedCredit+1, maxClosedCredit) }

// cancelled counts a stream the client reset before its response was
// sent.
func (c *Conn) cancelled() {
	c.window()
	if c.resets++; c.resets > max(minCancels, 2*int(c.cfg.MaxStreams)) {
		c.fail(ErrEnhanceYourCalm, "client reset streams faster than they could be answered (rapid reset)")
	}
}
