package filters

// refill asks the body's producer for its next segments once the write
// filter has sent every segment it had. turn says whether the producer
// already ran in this turn of the loop: it runs once per turn, so that
// compressing a large file yields between pieces (WaitPost) and other
// connections get their turn, the way sendfile_max_chunk bounds a send.
//
// more is true when new segments (possibly none) are in Body.Segs and the
// write filter should go on; otherwise the caller returns r: Done when
// the body is complete, Again or Error as the producer said.
func (t *Txn) refill(turn *bool) (r Result, more bool) {
	b := &t.Resp.Body
	if b.Producer == nil || t.Resp.HeaderOnly || t.producerDone {
		t.releaseProducer()
		return Done, false
	}
	if *turn {
		t.Wait = WaitPost
		return Again, false
	}
	*turn = true
	clear(b.Segs)
	b.Segs = b.Segs[:0]
	t.seg, t.segOff = 0, 0
	switch r := b.Producer.Produce(t); r {
	case OK:
		return OK, true
	case Done:
		t.producerDone = true
		return OK, true
	default:
		return r, false
	}
}

// releaseProducer gives back what the body's producer holds, once.
func (t *Txn) releaseProducer() {
	if p := t.Resp.Body.Producer; p != nil {
		t.Resp.Body.Producer = nil
		p.Release(t)
	}
}
