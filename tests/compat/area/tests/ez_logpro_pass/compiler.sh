#!/bin/sh
echo "compiling 3 units"
echo "note: cache warm"
echo "Build OK"
