#!/usr/bin/perl -w
# conlleval.pl - chunk-level precision, recall and F1 of CoNLL-style output.
#
# Our own implementation for the BioBERT port; it prints the same report,
# byte for byte, as the CoNLL-2000 conlleval script (version 2004-01-26).
#
# usage: perl conlleval.pl [-l] [-r] [-d delimiter] [-o outsideTag] < file
#   input: one token a line, fields separated by the delimiter (default a
#          single space); the last two fields are the gold and the predicted
#          tag (B-TYPE, I-TYPE, O, ...); a blank line or "-X-" ends a sentence.
#   -l  print a LaTeX table instead of the text report
#   -r  raw tags: every tag other than the outside tag is a one-token chunk
#       whose type is the tag itself
#   -d  field delimiter (a regular expression; default " ")
#   -o  outside tag for -r (default "O")
use strict;

my %opt = (latex => 0, raw => 0, delim => " ", otag => "O");
while (@ARGV && $ARGV[0] =~ /^-/) {
  my $arg = shift @ARGV;
  if    ($arg eq "-l") { $opt{latex} = 1; }
  elsif ($arg eq "-r") { $opt{raw} = 1; }
  elsif ($arg eq "-d") {
    die "conlleval: -d requires delimiter character" unless defined $ARGV[0];
    $opt{delim} = shift @ARGV;
  }
  elsif ($arg eq "-o") {
    die "conlleval: -o requires delimiter character" unless defined $ARGV[0];
    $opt{otag} = shift @ARGV;
  }
  else { die "conlleval: unknown argument $arg\n"; }
}
die "conlleval: unexpected command line argument\n" if @ARGV;

# Split "B-Gene-X" into ("B", "Gene-X"); a tag without "-" has no type.
# As in the 2004 script, a type Perl counts as false ("0") becomes "".
sub split_tag {
  my ($t) = @_;
  my ($tag, $type) = $t =~ /^([^-]*)-(.*)$/ ? ($1, $2) : ($t, "");
  return ($tag, $type ? $type : "");
}

# Did a chunk end between the previous tag and this one?
sub chunk_ends {
  my ($ptag, $tag, $ptype, $type) = @_;
  my %ends = map { $_ => 1 } qw(B:B B:O I:B I:O E:E E:I E:O);
  return 1 if $ends{"$ptag:$tag"};
  return 1 if $ptag ne "O" && $ptag ne "." && $ptype ne $type;
  return 1 if $ptag eq "[" || $ptag eq "]";
  return 0;
}

# Did a chunk start at this tag?
sub chunk_starts {
  my ($ptag, $tag, $ptype, $type) = @_;
  my %starts = map { $_ => 1 } qw(B:B I:B O:B O:I E:E E:I O:E);
  return 1 if $starts{"$ptag:$tag"};
  return 1 if $tag ne "O" && $tag ne "." && $ptype ne $type;
  return 1 if $tag eq "[" || $tag eq "]";
  return 0;
}

my ($tokens, $right_tags) = (0, 0);
my ($n_gold, $n_pred, $n_right) = (0, 0, 0);
my (%gold_by, %pred_by, %right_by);
my ($pg, $pp, $pgt, $ppt) = ("O", "O", "", "");   # previous gold/pred tag/type
my $matching = 0;     # inside a predicted chunk that matches a gold one so far
my $nfields = -1;

while (defined(my $line = <STDIN>)) {
  chomp $line;
  my @f = split(/$opt{delim}/, $line);
  if ($nfields < 0) { $nfields = $#f; }
  elsif ($nfields != $#f && @f != 0) {
    printf STDERR "unexpected number of features: %d (%d)\n", $#f + 1,
      $nfields + 1;
    exit(1);
  }
  my $boundary = (@f == 0 || $f[0] eq "-X-");
  @f = ("-X-", "O", "O") if $boundary;
  die "conlleval: unexpected number of features in line $line\n" if @f < 2;
  if ($opt{raw}) {
    for my $k ($#f - 1, $#f) {
      $f[$k] = "O" if $f[$k] eq $opt{otag};
      $f[$k] = "B-$f[$k]" if $f[$k] ne "O";
    }
  }
  my ($p, $pt) = split_tag($f[$#f]);
  my ($g, $gt) = split_tag($f[$#f - 1]);
  $p = "O" if $boundary;

  my $gold_end = chunk_ends($pg, $g, $pgt, $gt);
  my $pred_end = chunk_ends($pp, $p, $ppt, $pt);
  my $gold_start = chunk_starts($pg, $g, $pgt, $gt);
  my $pred_start = chunk_starts($pp, $p, $ppt, $pt);

  if ($matching) {
    if ($gold_end && $pred_end && $ppt eq $pgt) {
      $matching = 0;
      $n_right++;
      $right_by{$pgt}++;
    } elsif ($gold_end != $pred_end || $pt ne $gt) {
      $matching = 0;
    }
  }
  $matching = 1 if $gold_start && $pred_start && $pt eq $gt;
  if ($gold_start) { $n_gold++; $gold_by{$gt}++; }
  if ($pred_start) { $n_pred++; $pred_by{$pt}++; }
  if (!$boundary) {
    $right_tags++ if $g eq $p && $gt eq $pt;
    $tokens++;
  }
  ($pg, $pp, $pgt, $ppt) = ($g, $p, $gt, $pt);
}
if ($matching) { $n_right++; $right_by{$pgt}++; }

sub prf {
  my ($right, $pred, $gold) = @_;
  my $prec = $pred ? 100 * $right / $pred : 0.0;
  my $rec = $gold ? 100 * $right / $gold : 0.0;
  my $f = ($prec + $rec > 0) ? 2 * $prec * $rec / ($prec + $rec) : 0.0;
  return ($prec, $rec, $f);
}

# Chunk types in sorted order. As in the 2004 script, the empty type is
# listed once for every count table it is in.
my @types;
my $last;
for my $t (sort(keys %gold_by, keys %pred_by)) {
  push @types, $t if !$last || $last ne $t;
  $last = $t;
}

if (!$opt{latex}) {
  my ($prec, $rec, $f) = prf($n_right, $n_pred, $n_gold);
  print "processed $tokens tokens with $n_gold phrases; ";
  print "found: $n_pred phrases; correct: $n_right.\n";
  if ($tokens > 0) {
    printf "accuracy: %6.2f%%; ", 100 * $right_tags / $tokens;
    printf "precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f\n", $prec, $rec,
      $f;
  }
  for my $t (@types) {
    my ($tp, $tr, $tf) =
      prf($right_by{$t} || 0, $pred_by{$t} || 0, $gold_by{$t} || 0);
    printf "%17s: precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f  %d\n",
      $t, $tp, $tr, $tf, $pred_by{$t} || 0;
  }
} else {
  print "        & Precision &  Recall  & F\$_{\\beta=1} \\\\\\hline";
  for my $t (@types) {
    my ($tp, $tr, $tf) =
      prf($right_by{$t} || 0, $pred_by{$t} || 0, $gold_by{$t} || 0);
    printf "\n%-7s &  %6.2f\\%% & %6.2f\\%% & %6.2f \\\\", $t, $tp, $tr, $tf;
  }
  print "\\hline\n";
  my ($prec, $rec, $f) = prf($n_right, $n_pred, $n_gold);
  printf "Overall &  %6.2f\\%% & %6.2f\\%% & %6.2f \\\\\\hline\n", $prec,
    $rec, $f;
}
exit 0;
