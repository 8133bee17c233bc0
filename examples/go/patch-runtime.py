"""Patches a Go toolchain's wasm runtime so that Go shares linear memory with a
component adapter (see examples/go/README.md): the runtime's break skips pages
that another user of the memory grew. Idempotent; usage: patch-runtime.py GOROOT."""

import pathlib
import sys

MARK = "skipForeignPages"
root = pathlib.Path(sys.argv[1]) / "src" / "runtime"


def patch(name, old, new):
    path = root / name
    text = path.read_text()
    if MARK in text:
        return
    if old not in text:
        sys.exit(f"patch-runtime: {path} is not the expected Go runtime source")
    path.write_text(text.replace(old, new, 1))


patch(
    "mem_wasm.go",
    "func sbrk(n uintptr) unsafe.Pointer {\n\tbl := bloc\n",
    """// skipForeignPages moves the break past pages that another user of the
// memory (a component adapter) grew after the runtime last grew it.
func skipForeignPages() {
\tif end := uintptr(currentMemory()) * physPageSize; end > blocMax {
\t\tbloc, blocMax = end, end
\t}
}

func sbrk(n uintptr) unsafe.Pointer {
\tskipForeignPages()
\tbl := bloc
""",
)
patch(
    "mem_sbrk.go",
    "\t\t// Round up bloc to align, then allocate size.\n\t\tp = alignUp(bloc, align)\n",
    "\t\t// Round up bloc to align, then allocate size.\n\t\tskipForeignPages()\n\t\tp = alignUp(bloc, align)\n",
)
