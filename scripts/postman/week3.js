// Week 3 – the public catalogue: events with search, filters, sorting and pagination.

function expectHealthy() {
    pm.test("app and database are ok", () => {
        pm.expect(pm.response.json().data).to.eql({status: "ok", database: "ok"});
    });
}

// Also keeps an event with seats left (eventId) and the ids of this page (firstPageIds).
function expectUpcomingEventsSoonestFirst() {
    pm.test("upcoming events, soonest first, course item shape", () => {
        const data = pm.response.json().data;
        pm.expect(data.length).to.be.above(0);
        const starts = data.map(e => Date.parse(e.startsAt));
        pm.expect(starts).to.eql([...starts].sort((a, b) => a - b));
        const e = data[0];
        ["id", "title", "startsAt", "endsAt", "venue", "category", "imageUrl", "priceFrom",
            "ticketsAvailable", "soldOut"].forEach(k => pm.expect(e).to.have.property(k));
        pm.expect(e.priceFrom.amount).to.match(/^\d+\.\d{2}$/);
        pm.expect(Date.parse(e.startsAt)).to.be.above(Date.now());
        const open = data.find(x => !x.soldOut) || e;
        pm.collectionVariables.set("eventId", open.id);
        pm.collectionVariables.set("firstPageIds", JSON.stringify(data.map(x => x.id)));
    });
}

function expectSecondPageWithoutOverlap() {
    pm.test("page 2 continues page 1 without overlap", () => {
        const body = pm.response.json();
        pm.expect(body.meta.page).to.eql(2);
        const first = JSON.parse(pm.collectionVariables.get("firstPageIds"));
        body.data.forEach(e => pm.expect(first).to.not.include(e.id));
    });
}

function expectNoItems() {
    pm.test("no items, same totals", () => pm.expect(pm.response.json().data).to.eql([]));
}

function expectJazzInCopenhagen() {
    pm.test("finds jazz events in Copenhagen", () => {
        const data = pm.response.json().data;
        pm.expect(data.length).to.be.above(0);
        data.forEach(e => pm.expect(e.venue.city + " " + e.title + " " + e.category.name + " " + e.venue.name)
            .to.match(/copenhagen/i));
    });
}

function expectOnlyJazzInCopenhagenCheapestFirst() {
    pm.test("only jazz in Copenhagen, sorted by price", () => {
        const data = pm.response.json().data;
        data.forEach(e => {
            pm.expect(e.category.slug).to.eql("jazz");
            pm.expect(e.venue.city).to.eql("Copenhagen");
        });
        const prices = data.map(e => parseFloat(e.priceFrom.amount));
        pm.expect(prices).to.eql([...prices].sort((a, b) => a - b));
    });
}

function expectSeatsLeftWithinPriceRange() {
    pm.test("none sold out, priceFrom within range", () => {
        pm.response.json().data.forEach(e => {
            pm.expect(e.soldOut).to.eql(false);
            pm.expect(e.ticketsAvailable).to.be.above(0);
            const p = parseFloat(e.priceFrom.amount);
            pm.expect(p).to.be.within(100, 300);
        });
    });
}

// Also keeps a ticket type to buy in weeks 4 and 5 (ticketTypeId).
function expectEventWithTicketTypes() {
    pm.test("event with ticket types and availability", () => {
        const e = pm.response.json().data;
        pm.expect(e.id).to.eql(Number(pm.collectionVariables.get("eventId")));
        pm.expect(e).to.have.property("description");
        pm.expect(e.ticketTypes).to.be.an("array").that.is.not.empty;
        e.ticketTypes.forEach(t => {
            pm.expect(t.available).to.be.at.most(t.capacity);
            pm.expect(t.price.currency).to.eql("DKK");
            pm.expect(t).to.have.property("onSale");
        });
        const buyable = e.ticketTypes.find(t => t.onSale && t.available >= 2 && t.maxPerOrder >= 2);
        pm.expect(buyable, "a ticket type to buy in weeks 4 and 5").to.be.an("object");
        pm.collectionVariables.set("ticketTypeId", buyable.id);
    });
}

function expectPageSizeNamed() {
    pm.test("names the parameter", () => pm.expect(pm.response.json().errors).to.have.property("pageSize"));
}

function expectCategories() {
    pm.test("categories have slug and name", () => {
        pm.response.json().data.forEach(c => pm.expect(c).to.have.all.keys("id", "slug", "name"));
    });
}

function expectOnlyVenuesInAarhus() {
    pm.test("only venues in Aarhus", () => {
        const data = pm.response.json().data;
        pm.expect(data.length).to.be.above(0);
        data.forEach(v => pm.expect(v.city).to.eql("Aarhus"));
    });
}

function expectOpenApi3() {
    pm.test("is OpenAPI 3", () => pm.expect(pm.response.json().openapi).to.match(/^3\./));
}

function expectSwaggerPage() {
    pm.test("is the Swagger page", () => pm.expect(pm.response.text()).to.include("swagger-ui"));
}
