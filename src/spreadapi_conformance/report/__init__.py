"""certify's reports: evidence recorded from the checks' HTTP exchanges, secret masking, the pytest plugin
that maps outcomes to requirements, and the writers of report.json, junit.xml and report.html."""
