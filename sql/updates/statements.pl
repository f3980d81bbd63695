#!/usr/bin/perl
# sql/updates/statements.pl: the statements of install parts that an update
# script can run again over an older install of the extension, as TimescaleDB
# builds its update scripts from the current definitions.
#   statements.pl definitions PART...  CREATE FUNCTION, CREATE AGGREGATE and
#                                      CREATE VIEW, as CREATE OR REPLACE
#   statements.pl privileges PART...   COMMENT ON, GRANT, REVOKE and DO blocks
# Everything else (types, tables, operators, casts, triggers, event triggers,
# schemas, domains, pg_extension_config_dump) changes only by hand, in
# sql/updates/<from>--<to>.sql.  A statement starts at column 0 and ends at
# the first line ending in ';' outside dollar quotes.
use strict;
use warnings;

my $mode = shift // die "usage: statements.pl definitions|privileges PART...\n";
my $def = qr/^CREATE (?:OR REPLACE )?(?:FUNCTION|AGGREGATE|VIEW)\b/;
my $priv = qr/^(?:COMMENT ON|GRANT|REVOKE|DO)\b/;
my $want = $mode eq 'definitions' ? $def : $mode eq 'privileges' ? $priv
	: die "statements.pl: unknown mode \"$mode\"\n";

for my $file (@ARGV)
{
	open my $fh, '<', $file or die "statements.pl: $file: $!\n";
	(my $name = $file) =~ s{^.*/(sql/install/)}{$1};
	my ($stmt, $quote) = (undef, undef);
	while (my $line = <$fh>)
	{
		if (!defined $stmt)
		{
			next unless $line =~ /^[A-Z]/;
			$stmt = '';
		}
		$stmt .= $line;
		my $code = $line;
		$code =~ s/--.*$// unless defined $quote;
		while ($code =~ /\$([A-Za-z_]*)\$/g)
		{
			if (!defined $quote) { $quote = $1; }
			elsif ($quote eq $1) { $quote = undef; }
		}
		next if defined $quote || $code !~ /;\s*$/;
		if ($stmt =~ $want)
		{
			$stmt =~ s/^CREATE (FUNCTION|AGGREGATE|VIEW)/CREATE OR REPLACE $1/;
			print "-- from $name\n", $stmt, "\n";
		}
		$stmt = undef;
	}
	die "statements.pl: $file: unterminated statement\n" if defined $stmt;
}
