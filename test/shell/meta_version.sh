#!/bin/sh
# test/shell/meta_version.sh: META.json (PGXN) agrees with funnel.control and
# README: the distribution and the extension version are default_version
# as a three-part semantic version (0.1 -> 0.1.0), and the PostgreSQL
# prerequisite is the "Requires PostgreSQL N or later" of README.md.
set -eu
cd "$(dirname "$0")/../.."
control=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" funnel.control)
readme=$(sed -n 's/^Requires PostgreSQL \([0-9]*\) or later.*/\1/p' README.md)
perl -MJSON::PP -e '
    my ($control, $readme) = @ARGV;
    local $/;
    open my $fh, "<", "META.json" or die "META.json: $!\n";
    my $m = decode_json(<$fh>);
    my @v = split /\./, $control;
    push @v, 0 while @v < 3;
    my $want = join ".", @v;
    my @bad;
    push @bad, "version $m->{version}, expected $want" if $m->{version} ne $want;
    push @bad, "provides.funnel.version $m->{provides}{funnel}{version}, expected $want"
        if $m->{provides}{funnel}{version} ne $want;
    my $pg = $m->{prereqs}{runtime}{requires}{PostgreSQL} // "";
    push @bad, "PostgreSQL prerequisite $pg, expected $readme.0.0 (README)" if $pg ne "$readme.0.0";
    die map("meta_version: FAIL: META.json $_\n", @bad) if @bad;
    print "meta_version: META.json $m->{version} matches funnel.control $control and README (PostgreSQL $readme)\n";
' "$control" "$readme"
