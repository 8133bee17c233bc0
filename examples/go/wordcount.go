// Word count in Go: `wordcount INPUT OUTPUT_DIR`, the same job as the Rust
// example (examples/wordcount): words split on Unicode whitespace, counted,
// written as `word<TAB>count` lines, and the ten most frequent printed.
//
// appRun builds the plan with three ops named by short strings; taskRun
// applies them to the records of a task. Records use the recommended encoding:
// a word is its UTF-8 bytes (the key), a count an 8-byte big-endian integer
// (the value). abi.go is the hand-written binding to the job world.

package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
)

func main() {}

// ---- frames (see wit/job.wit) -------------------------------------------------

func uleb(b []byte, at int) (uint32, int, error) {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		if at >= len(b) {
			return 0, at, errors.New("a truncated record")
		}
		c := b[at]
		at++
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, at, nil
		}
	}
	return 0, at, errors.New("a length of more than 5 bytes")
}

// eachRecord calls f for every record of a batch (key nil: no key).
func eachRecord(batch []byte, f func(key, value []byte)) error {
	for at := 0; at < len(batch); {
		k, next, err := uleb(batch, at)
		if err != nil {
			return err
		}
		at = next
		var key []byte
		if k > 0 {
			key = batch[at : at+int(k)-1]
			at += int(k) - 1
		}
		v, next, err := uleb(batch, at)
		if err != nil {
			return err
		}
		at = next
		if at+int(v) > len(batch) {
			return errors.New("a truncated record")
		}
		f(key, batch[at:at+int(v)])
		at += int(v)
	}
	return nil
}

type output struct{ buf []byte }

func (o *output) push(key, value []byte) {
	if key == nil {
		o.buf = append(o.buf, 0)
	} else {
		o.buf = binary.AppendUvarint(o.buf, uint64(len(key))+1)
		o.buf = append(o.buf, key...)
	}
	o.buf = binary.AppendUvarint(o.buf, uint64(len(value)))
	o.buf = append(o.buf, value...)
	if len(o.buf) >= 64<<10 {
		o.flush()
	}
}

func (o *output) flush() {
	if len(o.buf) > 0 {
		Write(o.buf)
		o.buf = o.buf[:0]
	}
}

// ---- the task -----------------------------------------------------------------

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func taskRun(steps []Step) error {
	ops := make([]string, len(steps))
	for i, s := range steps {
		ops[i] = string(s.Op)
		if ops[i] != "split" && ops[i] != "add" && ops[i] != "format" {
			return fmt.Errorf("wordcount-go: unknown op %q", ops[i])
		}
	}
	out := &output{}
	sums := make([]map[string]uint64, len(ops))
	for i := range sums {
		sums[i] = map[string]uint64{}
	}
	one := u64(1)
	var push func(i int, key, value []byte)
	push = func(i int, key, value []byte) {
		if i == len(ops) {
			out.push(key, value)
			return
		}
		switch ops[i] {
		case "split":
			// bytes.Fields splits on Unicode White_Space, as Rust's split_whitespace.
			for _, word := range bytes.Fields(value) {
				push(i+1, word, one)
			}
		case "add":
			sums[i][string(key)] += binary.BigEndian.Uint64(value)
		case "format":
			line := append(append(append([]byte{}, key...), '\t'), strconv.FormatUint(binary.BigEndian.Uint64(value), 10)...)
			push(i+1, nil, line)
		}
	}
	for {
		batch, ok := Read()
		if !ok {
			break
		}
		if err := eachRecord(batch, func(k, v []byte) { push(0, k, v) }); err != nil {
			return fmt.Errorf("wordcount-go: input: %w", err)
		}
	}
	// The input ended: each `add` emits its sums, in step order.
	for i, op := range ops {
		if op == "add" {
			for k, n := range sums[i] {
				push(i+1, []byte(k), u64(n))
			}
		}
	}
	out.flush()
	return nil
}

// ---- main, on the driver ------------------------------------------------------

func appRun(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: wordcount INPUT OUTPUT_DIR")
	}
	lines, err := TextFile(args[0])
	if err != nil {
		return fmt.Errorf("wordcount-go: %w", err)
	}
	counts := lines.Narrow([]byte("split")).ReduceByKey([]byte("add"))
	if err := counts.Narrow([]byte("format")).SaveAsTextFile(args[1]); err != nil {
		return fmt.Errorf("wordcount-go: %w", err)
	}
	// A second action over the same counts reuses the shuffle the first one wrote.
	all, err := counts.Collect()
	if err != nil {
		return fmt.Errorf("wordcount-go: %w", err)
	}
	type entry struct {
		word []byte
		n    uint64
	}
	var words []entry
	if err := eachRecord(all, func(k, v []byte) { words = append(words, entry{k, binary.BigEndian.Uint64(v)}) }); err != nil {
		return fmt.Errorf("wordcount-go: collected records: %w", err)
	}
	sort.Slice(words, func(a, b int) bool {
		if words[a].n != words[b].n {
			return words[a].n > words[b].n
		}
		return bytes.Compare(words[a].word, words[b].word) < 0
	})
	fmt.Fprintf(os.Stdout, "%d distinct words; the most frequent:\n", len(words))
	for i := 0; i < len(words) && i < 10; i++ {
		fmt.Fprintf(os.Stdout, "%10d  %s\n", words[i].n, words[i].word)
	}
	return nil
}
