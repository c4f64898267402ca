#!/usr/bin/env bash
# Builds the file trees that the images add to an empty (scratch) base, one folder per layer:
#   runtime/  a jlink'd Java runtime at /opt/java with only the modules the application uses
#   system/   the C libraries that runtime and the bundled JNI libraries load, the loader, and /etc basics
#   models/   the bundled tiny model and the Hunyuan tokenizer at /opt/hunyuan/models
# Usage: build-rootfs.sh JAVA_HOME PROJECT_ROOT OUT_DIR MODULES
set -euo pipefail
java_home=$1 project=$2 out=$3 modules=$4

rm -rf "$out"
mkdir -p "$out"/runtime/opt "$out"/system/etc "$out"/system/tmp "$out"/models/opt/hunyuan/models

"$java_home/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files \
    --compress=zip-6 --output "$out/runtime/opt/java"

# Every shared library the runtime links, found by the loader of this (glibc) build machine, plus the C++
# runtime and zlib that Kafka's compression codecs and Netty's native transport load from their jars. The
# server runs headless (java.desktop is there for java.beans), so the X11 and sound back ends are left out.
libraries() {
    find "$out/runtime/opt/java" -type f \( -name '*.so' -o -path '*/bin/*' \) \
            ! -name libawt_xawt.so ! -name libjawt.so ! -name libjsound.so ! -name libsplashscreen.so -print0 \
        | LD_LIBRARY_PATH="$out/runtime/opt/java/lib:$out/runtime/opt/java/lib/server" xargs -0 ldd 2>/dev/null \
        | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }'
    # awk reads to the end: leaving early would kill ldconfig with SIGPIPE, which pipefail turns into a failure.
    for name in libstdc++.so.6 libgcc_s.so.1 libz.so.1; do
        ldconfig -p | awk -v n="$name" '$1 == n && /x86-64/ && !found { print $NF; found = 1 }'
    done
}
libraries | sort -u | while read -r lib; do
    case "$lib" in "$out"/*) continue ;; esac
    mkdir -p "$out/system$(dirname "$lib")"
    cp -L "$lib" "$out/system$lib"
done

# The loader is named by an absolute path in every executable; Debian keeps it under /lib64.
if [ ! -e "$out/system/lib64/ld-linux-x86-64.so.2" ]; then
    echo "build-rootfs: no /lib64/ld-linux-x86-64.so.2 among the libraries found" >&2
    exit 1
fi

cat > "$out/system/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
hyserve:x:65532:65532:hunyuan-serve:/tmp:/sbin/nologin
PASSWD
cat > "$out/system/etc/group" <<'GROUP'
root:x:0:
hyserve:x:65532:
GROUP
echo 'hosts: files dns' > "$out/system/etc/nsswitch.conf"

cp -r "$project/models/tiny-hunyuan-moe-bf16" "$project/models/tokenizer" "$out/models/opt/hunyuan/models/"
