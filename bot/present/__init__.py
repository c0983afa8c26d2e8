"""What people read, as plain text: the draft card, status lines, results and job lists."""
