package nerveskey

// chipCache holds what a Chip has read from the chip, so that each item is
// read once. Chip.mu guards it; Chip.forget clears it.
type chipCache struct{}
