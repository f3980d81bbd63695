#!/usr/bin/perl
# test/upgrade/normalise.pl: pg_dump -s --binary-upgrade output of a database
# holding only the funnel extension -> one block per object, sorted by its
# "-- Name: ...; Type: ...; Schema: ..." header, without what differs between
# two equal installs (OIDs given to binary_upgrade_*, owners, SET lines,
# pg_dump's version banner).  Two installs of the same schema print the same.
use strict;
use warnings;

my (%blocks, $key, @lines);
sub flush
{
	return unless defined $key;
	my $text = join '', @lines;
	$text =~ s/\n{2,}/\n/g;
	$blocks{$key} .= $text;
}
while (my $l = <>)
{
	if ($l =~ /^-- Name: (.*?); Type: (.*?); Schema: (.*?);/)
	{
		flush();
		$key = "$2 $3.$1";
		@lines = ();
		next;
	}
	next unless defined $key;
	next if $l =~ /^-- (Dumped|PostgreSQL database dump)/;
	next if $l =~ /binary_upgrade_set_(next|missing|record)/;
	next if $l =~ /^SET |^SELECT pg_catalog.set_config/;
	next if $l =~ /^--\s*$/ || $l =~ /^-- For binary upgrade/;
	next if $l =~ /^\\(un)?restrict /;
	# relfrozenxid and relminmxid of tables and their TOAST tables
	next if $l =~ /^(UPDATE pg_catalog\.pg_class|\s*SET relfrozenxid|WHERE oid = )/;
	# the OIDs of the extension's configuration tables
	$l =~ s/\d+/N/g if $l =~ /binary_upgrade_create_empty_extension/;
	# a table's dropped columns (ALTER TABLE ... DROP COLUMN in an update)
	next if $l =~ /pg\.dropped\.\d+/;
	push @lines, $l;
}
flush();
print "==== $_\n$blocks{$_}" for sort keys %blocks;
