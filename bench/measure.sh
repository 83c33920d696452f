# Sourced by the benchmark scripts: `measure NAME COMMAND...` runs COMMAND with its
# stdout in $DIR/NAME.out, and prints its wall time and peak RSS (the whole process,
# from GNU time) as one JSON line.
measure() {  # name, command...
  local name="$1"; shift
  /usr/bin/time -f '%M %e' -o "$DIR/$name.time" "$@" > "$DIR/$name.out" || true
  # GNU time puts "Command exited with non-zero status N" first when it did.
  read -r kib secs < <(tail -1 "$DIR/$name.time")
  echo "{\"name\": \"$name\", \"wall_seconds\": $secs, \"peak_rss_mib\": $((kib / 1024))}"
}
