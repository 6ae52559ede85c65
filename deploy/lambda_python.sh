#!/bin/sh
# Prints the path of a Python of the functions' runtime (template.yaml's `Runtime: python3.X`), found on
# the PATH, through pyenv or through uv; otherwise says in one line how to get one, and exits 2.
#   deploy/lambda_python.sh [what needs it, for the message]
# `make package`, `make bench` and `make smoke` call it unless LAMBDA_PYTHON names one.
here=$(dirname "$0")
version=$(sed -n 's/^ *Runtime: *python\(3\.[0-9][0-9]*\) *$/\1/p' "$here/../template.yaml" | head -n 1)
[ -n "$version" ] || { echo "lambda_python.sh: no 'Runtime: python3.X' in template.yaml" >&2; exit 2; }

# A Python that runs and is that version: prints its real path (a pyenv shim resolves to the interpreter).
works() {
    "$1" -c "import sys; print(sys.executable) if sys.version_info[:2] == ($(echo "$version" | tr . ,)) else exit(1)" \
        2>/dev/null
}

works "python$version" && exit 0
if command -v pyenv >/dev/null 2>&1; then
    for candidate in $(ls -d "$(pyenv root)/versions/$version".* 2>/dev/null | sort -t . -k 3 -n -r); do
        works "$candidate/bin/python$version" && exit 0
    done
fi
if command -v uv >/dev/null 2>&1; then
    found=$(uv python find "$version" 2>/dev/null) && works "$found" && exit 0
fi
echo "${1:-this}: needs Python $version, the functions' runtime: install it (pyenv install $version, or uv python install $version) or name it with LAMBDA_PYTHON=/path/to/python$version" >&2
exit 2
