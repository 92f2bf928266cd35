#!/usr/bin/env bash
# Record the Vietnamese digits the spoken captcha uses (idp/static/captcha-voice/<digit>/).
# Run once by a developer when the recordings change; the results are committed, so the
# provider itself needs neither program. Needs Debian's espeak-ng and sox.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=idp/static/captcha-voice
words=("không" "một" "hai" "ba" "bốn" "năm" "sáu" "bảy" "tám" "chín")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for digit in "${!words[@]}"; do
    mkdir -p "$out/$digit"
    # Two voices (northern and southern) so a listener hears the accent they know; the
    # captcha picks one recording at random for each digit.
    for voice in vi vi-vn-x-south; do
        espeak-ng -v "$voice" -s 130 -w "$tmp/raw.wav" "${words[$digit]}"
        # The captcha package mixes 8 kHz, 8-bit unsigned mono samples.
        sox "$tmp/raw.wav" -r 8000 -c 1 -b 8 -e unsigned-integer "$out/$digit/$voice.wav" \
            gain -n -2 silence 1 0.02 1% reverse silence 1 0.02 1% reverse
    done
done
echo "recorded ${#words[@]} digits in $out"
