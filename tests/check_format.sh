#!/bin/sh
# Fails when a C file is not formatted with the checked-in .clang-format.
set -eu
cd "$1"
dirs=""
for d in src tests tools; do
    if [ -d "$d" ]; then dirs="$dirs $d"; fi
done
files=$(find $dirs -name '*.[ch]')
clang-format --dry-run -Werror $files
echo "format: $(echo "$files" | wc -w) files clean"
