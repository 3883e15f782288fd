-- Anchors and earlier person ids whose latest mapping is the person.
SELECT from_person FROM parcours.person_map WHERE person_id = {person:String} ORDER BY from_person
