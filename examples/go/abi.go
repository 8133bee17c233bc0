// The component-model canonical ABI for the parts of the `spindle:job/job`
// world this job uses, written by hand: imports with //go:wasmimport, exports
// with //go:wasmexport, and cabi_realloc for the host to place lists and strings
// in this module's memory. Layouts follow the canonical ABI: a string or list is
// (pointer u32, length u32); a result or option is a u8 discriminant, then its
// payload at offset 4.

package main

import (
	"bytes"
	"runtime"
	"unsafe"
)

// Memory handed to the host stays reachable here: the Go collector does not
// move objects, and a task's instance is short-lived.
var pinned [][]byte

// Lists and strings the host places in this module land in a fixed arena
// outside the Go heap. cabi_realloc runs while the component may not call out,
// and a Go allocation there could start a collection, which reads the clock (a
// call out): the instance would trap. The arena is reused from the start once
// what it holds is dead: when the next input batch is read, and when an export
// returns. Requests larger than the arena go to the Go heap.
var arena [4 << 20]byte
var arenaUsed uint32

func resetArena() { arenaUsed = 0 }

//go:wasmexport cabi_realloc
func cabiRealloc(oldPtr, oldSize, align, newSize uint32) uint32 {
	if newSize == 0 {
		return align
	}
	base := addrOf(arena[:])
	start := (base + arenaUsed + align - 1) &^ (align - 1)
	var addr uint32
	if start+newSize <= base+uint32(len(arena)) {
		arenaUsed = start + newSize - base
		addr = start
	} else {
		buf := make([]byte, newSize+align)
		pinned = append(pinned, buf)
		addr = (addrOf(buf) + align - 1) &^ (align - 1)
	}
	if oldPtr != 0 && oldSize > 0 {
		copy(view(addr, min(oldSize, newSize)), view(oldPtr, oldSize))
	}
	return addr
}

// view is the memory at [addr, addr+n) as a slice (no copy).
func view(addr, n uint32) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(uintptr(addr))), n)
}

func u32At(addr uint32) uint32 { return *(*uint32)(unsafe.Pointer(uintptr(addr))) }
func u8At(addr uint32) uint8   { return *(*uint8)(unsafe.Pointer(uintptr(addr))) }

// addrOf is the address of b's first byte (0 for an empty slice).
func addrOf(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

// retArea receives results the canonical ABI passes through memory.
var retArea [4]uint32

func retPtr() uint32 { return uint32(uintptr(unsafe.Pointer(&retArea[0]))) }

// stringOrList reads a (pointer, length) pair at addr.
func stringOrList(addr uint32) []byte { return view(u32At(addr), u32At(addr+4)) }

// ---- spindle:job/context -----------------------------------------------------

//go:wasmimport spindle:job/context@0.1.0 text-file
func importTextFile(ptr, n, hasMin, min, ret uint32)

//go:wasmimport spindle:job/context@0.1.0 [method]dataset.narrow
func importNarrow(self, ptr, n uint32) uint32

//go:wasmimport spindle:job/context@0.1.0 [method]dataset.reduce-by-key
func importReduceByKey(self, ptr, n, hasPartitions, partitions uint32) uint32

//go:wasmimport spindle:job/context@0.1.0 [method]dataset.save-as-text-file
func importSaveAsTextFile(self, ptr, n, ret uint32)

//go:wasmimport spindle:job/context@0.1.0 [method]dataset.collect
func importCollect(self, ret uint32)

//go:wasmimport spindle:job/context@0.1.0 [resource-drop]dataset
func importDropDataset(self uint32)

// Dataset is an owned handle to a dataset of the application's lineage.
type Dataset uint32

type hostError string

func (e hostError) Error() string { return string(e) }

// result reads a result<T, string> from the return area: the ok payload's
// address, or the error.
func result() (uint32, error) {
	if u8At(retPtr()) != 0 {
		return 0, hostError(stringOrList(retPtr() + 4))
	}
	return retPtr() + 4, nil
}

func TextFile(path string) (Dataset, error) {
	b := []byte(path)
	importTextFile(addrOf(b), uint32(len(b)), 0, 0, retPtr())
	runtime.KeepAlive(b)
	at, err := result()
	if err != nil {
		return 0, err
	}
	return Dataset(u32At(at)), nil
}

func (d Dataset) Narrow(op []byte) Dataset {
	h := importNarrow(uint32(d), addrOf(op), uint32(len(op)))
	runtime.KeepAlive(op)
	return Dataset(h)
}

func (d Dataset) ReduceByKey(op []byte) Dataset {
	h := importReduceByKey(uint32(d), addrOf(op), uint32(len(op)), 0, 0)
	runtime.KeepAlive(op)
	return Dataset(h)
}

func (d Dataset) SaveAsTextFile(path string) error {
	b := []byte(path)
	importSaveAsTextFile(uint32(d), addrOf(b), uint32(len(b)), retPtr())
	runtime.KeepAlive(b)
	_, err := result()
	return err
}

func (d Dataset) Collect() ([]byte, error) {
	importCollect(uint32(d), retPtr())
	at, err := result()
	if err != nil {
		return nil, err
	}
	return stringOrList(at), nil
}

func (d Dataset) Drop() { importDropDataset(uint32(d)) }

// ---- spindle:job/task-io -----------------------------------------------------

//go:wasmimport spindle:job/task-io@0.1.0 read
func importRead(ret uint32)

//go:wasmimport spindle:job/task-io@0.1.0 write
func importWrite(ptr, n uint32)

// Read is the next input batch; ok is false at the end of the input.
func Read() (batch []byte, ok bool) {
	resetArena() // the previous batch is dead
	importRead(retPtr())
	if u8At(retPtr()) == 0 {
		return nil, false
	}
	return stringOrList(retPtr() + 4), true
}

// Write hands an output batch to the host.
func Write(batch []byte) {
	importWrite(addrOf(batch), uint32(len(batch)))
	runtime.KeepAlive(batch)
}

// ---- exports: app.run and task.run -------------------------------------------

// Step is one op of a task, as the driver got it from `main`.
type Step struct {
	Combine bool
	Op      []byte
}

// exportResult writes result<_, string> into the return area.
func exportResult(err error) uint32 {
	if err == nil {
		retArea[0] = 0
		return retPtr()
	}
	msg := []byte(err.Error())
	pinned = append(pinned, msg)
	retArea[0] = 1
	retArea[1] = addrOf(msg)
	retArea[2] = uint32(len(msg))
	return retPtr()
}

//go:wasmexport spindle:job/app@0.1.0#run
func exportAppRun(ptr, n uint32) uint32 {
	args := make([]string, n)
	for i := uint32(0); i < n; i++ {
		args[i] = string(stringOrList(ptr + 8*i))
	}
	defer resetArena()
	return exportResult(appRun(args))
}

//go:wasmexport spindle:job/task@0.1.0#run
func exportTaskRun(ptr, n uint32) uint32 {
	steps := make([]Step, n)
	for i := uint32(0); i < n; i++ {
		at := ptr + 12*i
		// Copied: the arena the host placed them in is reused by Read.
		steps[i] = Step{Combine: u8At(at) == 1, Op: bytes.Clone(stringOrList(at + 4))}
	}
	defer resetArena()
	return exportResult(taskRun(steps))
}
