"""The names of the files each stage writes and a later stage, an operation or a check reads.

A stage's folder is in ``settings.Paths``; the file inside it is named here, once, so that reading another
stage's output never means importing that stage (imports follow the data flow, file names do not have to).
"""

# stage 2, in 2_pseudonymised/extract_month=YYYY-MM/
REPORTS_FILE = "reports.parquet"  # accepted rows: pseudonym and key id, never the personnummer
QUARANTINE_FILE = "quarantine.parquet"  # refused rows, masked, with their reasons
LEDGER_FILE = "ledger.parquet"  # one row per delivered file: loaded, rejected or replaced
# stage 2, in 2_pseudonymised/ beside the months
REFUSED_NAMES_FILE = "refused_names.parquet"  # files refused for their name alone
# stage 3, in 3_register/extract_month=YYYY-MM/
REGISTER_FILE = "register.parquet"
REGISTER_DIGEST_FILE = "register.parquet.sha256"
# stage 4, in 4_statistics/extract_month=YYYY-MM/
STATISTICS_FILE = "data.parquet"
