#!/bin/sh
# Fails on relative includes that climb out of a module's folder: the build's
# include paths enforce the dependency rule, and "../" would go around them.
set -eu
cd "$1"
bad=$(grep -rnE '#include "\.\./' src || true)
if [ -n "$bad" ]; then
    echo "layers: relative includes out of a module folder:"
    echo "$bad"
    exit 1
fi
echo "layers: ok"
