# A job waiting to be sent to kie.ai: its place in the bot's submit queue ($position, 1 = the
# next one sent) and when it should be sent ($starts, a Discord timestamp that reads "in 40
# seconds"). Shown in its status message, and edited as the queue moves.
queue-status = ⏳ #{ $position } in the queue, starts { $starts }. You can still cancel.
# The same in a line of /storyboard-status.
queue-line = #{ $position } in the queue, starts { $starts }
