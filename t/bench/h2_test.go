package main

import (
	"io"
	"math"
	"net"
	"testing"

	"golang.org/x/net/http2"
)

// TestH2MaxStreams: the limit a server's first SETTINGS frame gives, and
// no limit when it gives none.
func TestH2MaxStreams(t *testing.T) {
	for _, tc := range []struct {
		settings []http2.Setting
		want     uint32
	}{
		{[]http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 1 << 16}, {ID: http2.SettingMaxConcurrentStreams, Val: 8}}, 8},
		{[]http2.Setting{{ID: http2.SettingMaxFrameSize, Val: 1 << 14}}, math.MaxUint32},
	} {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			preface := make([]byte, len(http2.ClientPreface))
			if _, err := io.ReadFull(c, preface); err != nil || string(preface) != http2.ClientPreface {
				return
			}
			http2.NewFramer(c, c).WriteSettings(tc.settings...)
			io.Copy(io.Discard, c)
		}()
		got, err := h2MaxStreams(ln.Addr().String())
		ln.Close()
		if err != nil || got != tc.want {
			t.Errorf("%v: %d, %v; want %d", tc.settings, got, err, tc.want)
		}
	}
}
