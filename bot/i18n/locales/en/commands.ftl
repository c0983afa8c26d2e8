cmd-storyboard = Make a short video from an image and a list of shots
cmd-storyboard-image = The reference image (png, jpeg, webp...)
cmd-storyboard-shots = Shots separated by ; e.g. 7.5 | a kitten; 7.5 | it smiles (leave empty for a form)
cmd-storyboard-length = Video length in seconds
cmd-storyboard-aspect = Landscape or portrait (default: like the image)
cmd-status = Your recent storyboard videos
cmd-usage = What you have left today and this month
cmd-help = How to write shots, with examples
button-generate = Generate
button-edit = Edit
button-discard = Discard
button-regenerate = Regenerate
button-delete = Delete
button-download = Download
button-cancel = Cancel
button-add_shot = Add shot
button-undo = Undo
button-settings = Length, aspect, image
select-shot = Edit, move or delete one shot…
modal-shot-title = Shot { $shot }
modal-add-title = New shot
modal-settings-title = Storyboard settings
modal-scene = Scene
modal-duration = Duration (seconds)
modal-duration-description = Leave it empty to share the time left with the other automatic shots.
modal-duration-placeholder = e.g. 4.5
modal-position = Position
modal-delete = Delete this shot
modal-length = Video length
modal-aspect = Aspect
modal-image = New reference image (optional)
modal-image-description = JPEG, PNG or WebP; other images are converted.
button-fix = Fix
modal-title = Storyboard shots
modal-label = Shots, one per line
modal-description = 7.5 | scene, or a scene alone to share the time evenly
modal-example =
    7.5 | A fluffy orange kitten with headphones, warm light
    7.5 | The kitten licks its lips, content
help-title = Writing shots
help-thread = Refining a draft in its thread
help-body =
    Run `/storyboard` with an image. Write one shot per line in the form, or separate shots with `;` in the `shots` option.

    {"*"}*A shot:** `[DURATION[s|秒] |] SCENE`
    ```
    7.5 | A fluffy orange kitten with headphones
    7.5s | The kitten licks its lips
    7.5秒｜同一只小猫舔着嘴唇
    A scene without a duration
    ```
    Shots without a duration share the time left evenly. Durations are in tenths of a second. Full-width forms (`｜`, `；`, full-width digits) work too.

    {"*"}*Limits:** { $limits }
help-limits = { $model }: 1-{ $shots } shots, each { $min }-{ $max } s, total at most { $lengths }
