-- Conversions and revenue credited to each channel, per attribution model.
SELECT
    model,
    channel,
    sum(credit) AS credit,
    sum(revenue_credit) AS revenue_credit
FROM parcours.v_attribution
GROUP BY model, channel
ORDER BY model ASC, credit DESC, channel ASC
