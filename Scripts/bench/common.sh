# Helpers shared by the benchmark scripts (sourced).
# field NAME: the value of NAME=value in a line of space-separated name=value pairs on stdin.
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
# median: the median of the numbers on stdin, one per line.
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
