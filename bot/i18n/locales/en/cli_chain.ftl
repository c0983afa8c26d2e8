# The command line's own refusals (bot/app/render.py): a reference image file it cannot read.
image-no_file = { $path }: no such file
image-directory = { $path } is a directory, not an image
image-unreadable = { $path } could not be read ({ $detail })
