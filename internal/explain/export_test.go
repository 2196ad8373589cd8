package explain

// SetSampleSize changes the sample size for a test and returns the undo.
func SetSampleSize(n float64) func() {
	old := sampleSize
	sampleSize = n
	return func() { sampleSize = old }
}
