"""Time and score: the scorecard, and (later) the reminder ladder and the weekly digest."""
