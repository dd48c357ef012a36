#!/bin/sh
# Fails when a C file is not formatted with the checked-in .clang-format.
set -eu
cd "$1"
dirs="src tests"
[ -d tools ] && dirs="$dirs tools"
files=$(find $dirs -name '*.[ch]')
clang-format --dry-run -Werror $files
echo "format: $(echo "$files" | wc -w) files clean"
