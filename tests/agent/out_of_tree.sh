#!/usr/bin/env bash
# A third party's path: install cobs into a temporary prefix, build the
# example plugin out of tree with pkg-config, drop it in the installed plugin
# dir, name it in an agent.ini, and find its metrics in the agent's output.
set -euo pipefail
build=$1 source=$2
tmp=$(mktemp -d /tmp/cobs-oot-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
plugindir=$(realpath "$(pkg-config --variable=plugindir cobs)")
[ "$plugindir" = "$tmp/prefix/lib/cobs/plugins" ] || { echo "plugindir is $plugindir"; exit 1; }

cp -r "$source/examples/hello-plugin" "$tmp/hello"
# Sanitizer builds need the same flags in the plugin, or its libcobs calls go unchecked.
make -s -C "$tmp/hello" CFLAGS="-O2 -Wall -Wextra -Werror ${COBS_EXTRA_CFLAGS:-}"
cp "$tmp/hello/hello.so" "$plugindir/"

cat > "$tmp/agent.ini" <<INI
[plugin.hello]
greeting = out of tree
[plugin.mem]
INI
out=$("$tmp/prefix/bin/cobs-agent" -c "$tmp/agent.ini" --once --format prometheus)
grep -q '^hello_runs_total 1$' <<<"$out" || { echo "no hello_runs_total in:"; echo "$out"; exit 1; }
grep -q '^hello_info{greeting="out of tree"} 1$' <<<"$out" || { echo "no hello_info"; exit 1; }
grep -q '^node_memory_MemTotal_bytes ' <<<"$out" || { echo "installed mem plugin missing"; exit 1; }
# The installed public headers carry the MIT line so any licence may build on them.
for h in "$tmp"/prefix/include/cobs/*.h; do
  grep -q 'SPDX-License-Identifier: MIT' "$h" || { echo "$h lacks the MIT SPDX line"; exit 1; }
done
echo "out-of-tree plugin: 1 passed, 0 failed"
