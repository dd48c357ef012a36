#!/bin/sh
# Fails when a C file is not formatted with the checked-in .clang-format.
set -eu
cd "$1"
files=$(find src tests tools -name '*.[ch]' 2>/dev/null)
clang-format --dry-run -Werror $files
echo "format: $(echo "$files" | wc -w) files clean"
