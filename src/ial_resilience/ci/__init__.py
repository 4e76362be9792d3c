"""`ialr ci`: a suite for a pipeline (JUnit XML, markdown summary, deploy gate)."""
