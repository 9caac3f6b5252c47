#!/usr/bin/env bash
# Removes natter's own build products (library, binary, tests, bench, their incremental
# state) from the shared build directory, keeping every compiled dependency (the slow
# part, which is what a fresh clone reuses).
#
# Why: CI clones into a new folder each run, and the folder is part of the hash cargo
# gives each of natter's own build units, so every run left a full set behind (~1 GB of
# test binaries plus ~0.5 GB of incremental state in debug) that no later run could
# use; the directory had grown to 64 GB. `.ci/run` calls this before building. The next
# build of a checkout that was pruned recompiles natter itself, not its dependencies.
set -euo pipefail
T="${CARGO_TARGET_DIR:-$HOME/.cache/natter-target}"
shopt -s nullglob
removed=0
# Each unit has a fingerprint directory `<package>-<hash>`; its outputs are named
# `<target>-<hash>` (plus an extension) in `deps/` or `examples/` next to it.
# Three depths: `debug/`, `wasm32-unknown-unknown/debug/`, and cargo-leptos's front
# build, `front/wasm32-unknown-unknown/wasm-release/` (missing that one let a build in
# another folder reuse the WASM compiled from an earlier clone's sources).
for fp in "$T"/*/.fingerprint/natter-* "$T"/*/*/.fingerprint/natter-* "$T"/*/*/*/.fingerprint/natter-*; do
  hash="${fp##*-}"
  out="${fp%/.fingerprint/*}"
  rm -rf -- "$fp" "$out"/deps/*-"$hash" "$out"/deps/*-"$hash".* \
    "$out"/examples/*-"$hash" "$out"/examples/*-"$hash".*
  removed=$((removed + 1))
done
# Only natter's own crate is ever compiled incrementally.
for inc in "$T"/*/incremental "$T"/*/*/incremental "$T"/*/*/*/incremental; do
  rm -rf -- "$inc"
done
echo "pruned $removed build units of natter from $T"
