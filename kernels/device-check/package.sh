#!/usr/bin/env bash
# Assembles what travels to the GPU machine, packed into one OUT_DIR.tar.gz since a device call carries at most
# 64 MiB with the working tree: the shaded device-tests.jar (already in OUT_DIR), a jlink'd Java runtime, and the
# BF16 fixture with the tokenizer. The fixture's weights are the bundled model's (checked here), which travels
# with the working tree, so device-check.sh links them instead of carrying them twice. The F32 fixture does not
# fit beside the rest.
# Usage: package.sh JAVA_HOME OUT_DIR FIXTURES_DIR MODULES PROJECT_ROOT
set -euo pipefail
java_home=$1 out=$2 fixtures=$3 modules=$4 project=$5
rm -rf "$out/runtime" "$out/fixtures"
"$java_home/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files --compress=zip-9 \
    --output "$out/runtime"
# Symbols are a sixth of libjvm.so; binutils' strip removes them where it is installed.
if command -v strip >/dev/null; then
    chmod u+w "$out/runtime/lib/server/libjvm.so"
    strip --strip-unneeded "$out/runtime/lib/server/libjvm.so"
fi
model=tiny-hunyuan-moe-bf16
if ! cmp -s "$fixtures/$model/model.safetensors" "$project/models/$model/model.safetensors"; then
    echo "package.sh: models/$model/model.safetensors differs from the fixture's; carry the fixture's" >&2
    exit 1
fi
mkdir -p "$out/fixtures/$model"
cp -r "$fixtures/tokenizer" "$out/fixtures/"
find "$fixtures/$model" -maxdepth 1 -type f ! -name model.safetensors -exec cp {} "$out/fixtures/$model/" \;
tar -C "$(dirname "$out")" -czf "$out.tar.gz" "$(basename "$out")"
echo "device check: $(du -sh "$out" | cut -f1) packed into $(du -h "$out.tar.gz" | cut -f1) at $out.tar.gz" >&2
