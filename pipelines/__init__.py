"""orostat: monthly municipal extracts → pseudonymised, disclosure-controlled national statistics.

The data flows one way, and the packages are numbered in that order:

    stage1_landing       read an extract in any supported dialect → contract fields, all text
    stage2_pseudonymise  validate, quarantine, and replace the personnummer with a keyed pseudonym
                         (the personnummer dies here: nothing downstream ever sees it)
    stage3_register      the current state of every report, as of an extract month
    stage4_statistics    statistics defined once in schemas/statistics.yaml, computed in DuckDB
    stage5_protection    disclosure control of release tables
    stage6_publishing    reports, workbooks and research access

Data on disk follows the same numbering under ``$OROSTAT_HOME/data`` (1_landing … 6_published).
"""
