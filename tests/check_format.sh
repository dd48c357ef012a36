#!/bin/sh
# Fails when a C file is not formatted with the checked-in .clang-format.
set -eu
cd "$1"
# tools/ joins once it exists; find fails on a missing folder.
dirs=$(for d in src tests tools; do if [ -d "$d" ]; then echo "$d"; fi; done)
files=$(find $dirs -name '*.[ch]')
clang-format --dry-run -Werror $files
echo "format: $(echo "$files" | wc -w) files clean"
