"""Real data in: OPSD/CoSSMic meter files, day-ahead prices and weather to DuckDB."""
