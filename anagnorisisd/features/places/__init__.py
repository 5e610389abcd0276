"""Places: where a photo was taken, as its GPS and the nearest town say."""
