#!/usr/bin/env bash
# npm run build:wasm: builds src/catalog/record-lines.wasm from record-lines.c (see there) with
# Debian's clang and lld. The .wasm is committed, so only a change to the C needs this;
# test/catalog/record-lines-wasm.test.ts rebuilds it and requires the committed bytes.
# Usage: scripts/build-wasm.sh [OUT] (default: src/catalog/record-lines.wasm)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-src/catalog/record-lines.wasm}
# No debug info, no producers section, no build paths: the bytes depend only on the source.
clang --target=wasm32 -msimd128 -O3 -ffreestanding -nostdlib -fno-ident -g0 \
  -Wall -Wextra -Werror \
  -Wl,--no-entry -Wl,--strip-all -Wl,--export=__heap_base \
  -Wl,-z,stack-size=65536 \
  -o "$out" src/catalog/record-lines.c
chmod 644 "$out" # the linker makes it executable; the committed file is not
