#!/usr/bin/env bats
# What the build must keep, whatever it trims for speed (unc.spec).

load helpers

setup() { setup_scratch; }
teardown() { teardown_scratch; }

@test "dist/unc starts in a legacy CJK locale (the bundle keeps the CJK codecs)" {
    command -v localedef >/dev/null && [ -e /usr/share/i18n/charmaps/EUC-JP.gz ] \
        || skip "needs localedef and the EUC-JP charmap (Debian libc-bin, locales)"
    localedef -i ja_JP -f EUC-JP "$SCRATCH/ja_JP.eucJP" 2>/dev/null \
        || [ -d "$SCRATCH/ja_JP.eucJP" ] || skip "localedef could not build ja_JP.eucJP"
    # Python takes its file-name encoding from the locale: EUC-JP needs _codecs_jp.
    run -0 env LOCPATH="$SCRATCH" LC_ALL=ja_JP.eucJP "$UNC" --stage=uts sh -c 'exit 0'
    run -3 env LOCPATH="$SCRATCH" LC_ALL=ja_JP.eucJP "$UNC" --stage=uts sh -c 'exit 3'
}
