"""Numbers over time: the daily counts reports state per direction, as a series and a chart."""
