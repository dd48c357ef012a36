#!/bin/sh
# Static analysis: cppcheck on src/ with the project's settings must report nothing.
set -eu
cd "$1"
cppcheck --enable=warning,performance,portability --std=c11 --inline-suppr \
    --error-exitcode=1 -q -D__GNUC__ -I src src
echo "cppcheck: src clean"
