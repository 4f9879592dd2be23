# admiral's whole command on a file, for benchmarks/bench_vs_admiral.py: read a CSV of ADLB rows, grade both
# directions and the overall grade by CTCAE v4 (admiral 1.4.1), write a CSV; the wall time of each repetition.
# Usage: R_LIBS=$RLIB Rscript admiral_read_grade_write.R INPUT_CSV OUTPUT_CSV [reps]
suppressPackageStartupMessages({
  library(admiral)
  library(dplyr, warn.conflicts = FALSE)
})
args <- commandArgs(trailingOnly = TRUE)
reps <- if (length(args) >= 3) as.integer(args[3]) else 3L
once <- function() {
  adlb <- read.csv(args[1], na.strings = "", stringsAsFactors = FALSE, colClasses = c(USUBJID = "character"))
  graded <- adlb %>%
    derive_var_atoxgr_dir(new_var = ATOXGRL, tox_description_var = ATOXDSCL, meta_criteria = atoxgr_criteria_ctcv4,
                          criteria_direction = "L", get_unit_expr = extract_unit(PARAM)) %>%
    derive_var_atoxgr_dir(new_var = ATOXGRH, tox_description_var = ATOXDSCH, meta_criteria = atoxgr_criteria_ctcv4,
                          criteria_direction = "H", get_unit_expr = extract_unit(PARAM)) %>%
    derive_var_atoxgr()
  write.csv(graded, args[2], row.names = FALSE, na = "")
  nrow(graded)
}
secs <- numeric(reps)
for (i in seq_len(reps)) {
  invisible(gc())
  t0 <- proc.time()[["elapsed"]]
  rows <- once()
  secs[i] <- proc.time()[["elapsed"]] - t0
}
cat(sprintf("read CSV + grade + write CSV rows=%8d  wall s: %s (min %.2f, median %.2f)\n", rows,
            paste(sprintf("%.2f", secs), collapse = " "), min(secs), median(secs)))
